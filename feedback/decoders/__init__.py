"""Feedback decoders: one interface (``base.FeedbackDecoder``), a lexicon decoder and the prompted LLM
decoder; ``registry`` builds one by name."""
