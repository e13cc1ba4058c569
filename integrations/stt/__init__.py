"""Speech-to-text through OpenAI Whisper or a compatible server."""
