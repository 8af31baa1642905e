"""Dealer-flow monitor: options-dealer positioning, exposures and hedge-flow forecasts."""
