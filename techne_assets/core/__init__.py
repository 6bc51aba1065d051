"""Pure domain core: no dagster, no boto3. Models, parsers, chunking, documents, prompts."""
