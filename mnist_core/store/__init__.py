"""What the app keeps, in one SQL database:

    database  the SQL store (SQLite or Postgres), its schema and migrations, its revision
    runs      saved training runs: records (a fine-tune's report too) and model files
    drawings  the drawings people labelled
"""
