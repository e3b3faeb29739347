"""Model access: any OpenAI-compatible chat endpoint through langchain-openai."""
