-- The legacy system's schema: what `falcon migrate` reads (issue #17). Kept
-- as the legacy system has it; scripts/legacy/db.sh loads it into the
-- database `legacy`, whose default character set is latin1, as the legacy
-- PHP system's was: it wrote UTF-8 bytes into latin1 columns, so any bytes
-- may be there, valid UTF-8 or not, and are read back as they are.
CREATE TABLE IF NOT EXISTS room (
  room_id BIGINT UNSIGNED PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description TEXT,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  deleted TINYINT NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS room_member (
  room_id BIGINT UNSIGNED,
  account_id BIGINT UNSIGNED,
  role ENUM('admin','member') NOT NULL,
  joined_at DATETIME(3) NOT NULL,
  PRIMARY KEY (room_id, account_id)
);

CREATE TABLE IF NOT EXISTS message (
  message_id BIGINT UNSIGNED PRIMARY KEY,
  room_id BIGINT UNSIGNED NOT NULL,
  account_id BIGINT UNSIGNED NOT NULL,
  body TEXT NOT NULL,
  reply_to BIGINT UNSIGNED NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  deleted TINYINT NOT NULL DEFAULT 0,
  KEY (room_id, message_id)
);
