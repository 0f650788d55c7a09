package httpapi

// webhookRoutes registers the webhook endpoint routes.
func (h *Handler) webhookRoutes() {}
