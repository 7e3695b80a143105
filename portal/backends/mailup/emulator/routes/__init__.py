"""The emulator's endpoints, one module per API area (paths are lower-case: the app lower-cases them)."""
