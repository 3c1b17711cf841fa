-- Do not disturb (protocol.md §12 preferences, issue 15): paused until a
-- time, and daily quiet hours (HH:MM to HH:MM in an IANA zone).
ALTER TABLE notification_prefs ADD COLUMN dnd_until BIGINT;
ALTER TABLE notification_prefs ADD COLUMN quiet_from TEXT;
ALTER TABLE notification_prefs ADD COLUMN quiet_to TEXT;
ALTER TABLE notification_prefs ADD COLUMN quiet_time_zone TEXT;
