-- bosun schema, version 5: the file says it is bosun's. SQLite's application_id (header
-- offset 68) is "bosu" in ASCII; `file(1)` and bosun itself tell a bosun database from any
-- other SQLite file by it, and bosun refuses to open a foreign one.
PRAGMA application_id = 1651471221;
