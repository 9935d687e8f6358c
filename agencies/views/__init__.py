"""Agency staff's pages under /agencies/<slug>/ (pool pages live in ``seats.views.agency``)."""
