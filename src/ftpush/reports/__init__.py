"""Report builders, file naming, xlsx/csv writers, delivery."""
