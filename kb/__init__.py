"""The course knowledge base: PDF ingestion, the local index, and the Bedrock Knowledge Base."""
