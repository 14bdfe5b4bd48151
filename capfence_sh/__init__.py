"""capfence: a shell gate for AI agents."""
