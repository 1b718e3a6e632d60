"""Dataset sources (demo, wikiceleb, folder/csv manifests) that all yield one table schema."""
