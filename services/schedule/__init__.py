"""The doctor's schedule: shifts, free slots, appointments, change requests, waitlist, calendar export."""
