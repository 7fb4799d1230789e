"""The backup suite's library (BKP-01..10), one job per module:

- `host`: commands and files on the host the stack runs on (this host, or over SSH);
- `procedure`: the deployment's own backup and restore commands, configured as the profile says;
- `dumpfile`: what a dump file is (intact gzip, complete, which database, which tables);
- `checksums`: per-table checksums computed in SQL (row count + order-independent hashes);
- `schema`: schema objects (tables, views, routines, triggers, events) by definition;
- `dataset`: hypothesis strategies and the canary edge-case dataset with its objects;
- `transfers`: the bounded transfer writer and the write-stall measure (BKP-03);
- `retention`: dated files around the retention boundary and the verdict (BKP-05);
- `archives`: archive restore into a throwaway container, Chroma query, file hashes (BKP-06);
- `failures`: a throwaway database server a dump can fail against (BKP-09).
"""
