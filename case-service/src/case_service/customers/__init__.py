"""Customer profiles: tier, preferred channel, language and contact points."""
