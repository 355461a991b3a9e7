"""Pure physics step functions over arrays; every function broadcasts over leading axes."""
