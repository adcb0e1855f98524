-- A Twilio Messaging Service SID (MG + 32 hex) may be registered as a sender: the provider is
-- told it as MessagingServiceSid and picks the number from the service's pool.
ALTER TABLE senders DROP CONSTRAINT senders_kind_check;
ALTER TABLE senders ADD CONSTRAINT senders_kind_check
    CHECK (kind IN ('LONG_CODE', 'TOLL_FREE', 'SHORT_CODE', 'ALPHANUMERIC', 'WHATSAPP',
                    'MESSAGING_SERVICE'));
