"""Worker pools: `catalog.py` reads their declarations (deploy/pools.yaml), `status.py` says how
each is coping, `scaling.py` keeps how many workers each should have."""
