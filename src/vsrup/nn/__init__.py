"""Neural-network blocks shared by several methods (optical flow, warping, ...)."""
