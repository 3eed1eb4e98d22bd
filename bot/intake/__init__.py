"""The intake: the questionnaire an applicant answers, and the conversation that walks it."""
