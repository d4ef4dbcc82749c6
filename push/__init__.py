"""Web Push: the browsers' push subscriptions of each user, and the worker's
delivery of every fired reminder to them (RFC 8030 delivery, RFC 8291
aes128gcm encryption, RFC 8292 VAPID, all by pywebpush)."""
