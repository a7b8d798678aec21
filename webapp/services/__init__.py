"""Services: plain functions that change the data and raise typed errors with machine codes."""
