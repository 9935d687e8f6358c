"""Portal pages about programs, pools and seats: ``gsa`` for GSA, ``agency`` for agency staff."""
