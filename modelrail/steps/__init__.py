"""Pipeline steps: the I/O around the pure core, one module per Lambda.

Each step takes its AWS clients as arguments (built lazily by the handler, moto in
tests) and typed inputs, and returns typed outputs. Handlers stay thin.
"""
