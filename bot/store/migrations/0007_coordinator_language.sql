-- The language a coordinator reads the bot's answers in ('en' or 'my'). A choice of interface,
-- the same for many people, not something they wrote about themselves; NULL until they choose,
-- then the language of their Telegram app at enrolment is used.
ALTER TABLE coordinators ADD COLUMN language TEXT;
