"""Push notifications: the outbox is filled by producers; this package paces and delivers it."""
