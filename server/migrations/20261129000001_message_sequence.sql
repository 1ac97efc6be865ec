-- A sequence per conversation: messages numbered 1, 2, 3, … with no gap, in the order
-- their writes committed. `last_seq` is the conversation's counter; the write that stores
-- a message bumps it (an unconditional UPDATE, which also serialises a conversation's
-- writers on PostgreSQL) and stores the new value with the message.
ALTER TABLE conversations ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;

-- The messages stored before, numbered in the order they were listed in: time, then id.
UPDATE messages SET seq = (
    SELECT COUNT(*) FROM messages earlier
    WHERE earlier.conversation_id = messages.conversation_id
      AND (earlier.created_at < messages.created_at
           OR (earlier.created_at = messages.created_at AND earlier.id <= messages.id))
);
UPDATE conversations SET last_seq = (
    SELECT COUNT(*) FROM messages WHERE messages.conversation_id = conversations.id
);

CREATE UNIQUE INDEX messages_by_seq ON messages (conversation_id, seq);
DROP INDEX messages_by_conversation;
