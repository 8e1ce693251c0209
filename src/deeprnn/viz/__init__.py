"""Plots: loss and metric curves, forecasts against the truth."""
