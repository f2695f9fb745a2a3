"""Sites: groups of chargers behind one grid connection, with the metadata drivers need to find them."""
