// Intentionally empty: the shim lives in include/CZlib.h.
