package httpapi

// extraRoutes registers coffer's extension routes.
func (h *Handler) extraRoutes() {}
