"""Pure rules: no queries, no side effects. Services and selectors ask them."""
