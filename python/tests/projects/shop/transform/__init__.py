"""From raw orders to priced ones."""
