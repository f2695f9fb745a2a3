"""The charger registry: who may connect, what they told us at boot, and their live state."""
