"""Outcomes, payment-by-results claims, the audit workbook and its verification, forecasts."""
