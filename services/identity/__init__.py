"""Who the doctor is: ESIA sign-in, the register of medical workers, consent, PIN and sessions."""
