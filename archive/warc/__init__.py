"""The archive's pure core: WARC/1.1 records, files, manifests, verification and export.

Plain Python, no Django: state in, bytes out. Storage, models and consumers live elsewhere in
`archive` and call into this package.
"""
