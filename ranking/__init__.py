"""Rating math as a pure library (no Django in the core modules), plus thin Django glue."""
