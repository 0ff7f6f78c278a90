"""Test helpers: wheel builder (wheels), local index server (index_server), browser driver (browser)."""
