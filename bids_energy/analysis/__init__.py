"""Group analysis: read many footprints, aggregate, predict. Pure tables; ``report`` renders them."""
