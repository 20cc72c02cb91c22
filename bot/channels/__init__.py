"""Channel adapters: each turns its requests into a Turn and renders a Reply in its own form."""
