-- Imported runs (issue 17): saved pages (wget mirrors, WARC files) brought in by
-- `dnmscope import` become crawl runs like crawled ones, marked by `source`. An import run
-- is found again by `import_key` (what was imported: its kind, path, date and market), so
-- importing the same archive twice, or again after a kill, adds to the same run.
-- `config` holds the import's particulars: source kind, path, date and how it was found.
ALTER TABLE crawls ADD COLUMN source TEXT NOT NULL DEFAULT 'crawl' CHECK (source IN ('crawl', 'import'));
ALTER TABLE crawls ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX crawls_by_import_key ON crawls (import_key);
