"""The pure core: names, model, rendering, negotiation, HTTP rules. No I/O."""
