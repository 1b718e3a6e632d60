"""What leaves an audit: report, figures, MLflow tracking, provenance."""
