"""The compliance archive: WARC writer and reader, storage backends, retention, legal hold."""
