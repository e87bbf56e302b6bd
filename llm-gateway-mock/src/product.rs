//! Which product a model route serves, read from its path as the real
//! gateway reads it (`services/llm-gateway`, `products/config.py` and
//! `dependencies.py`): the first path segment names a product, directly or
//! through an alias; the gateway's root (`/v1/…`) is the `llm_gateway`
//! product. The product decides which OAuth applications and which
//! credential kinds may come in; a segment that names no product is refused
//! after authentication with a 400.

/// The real gateway's products, sorted (the 400 lists them in this order).
pub const PRODUCTS: &[&str] = &[
    "background_agents",
    "customer_archetype_classification",
    "django",
    "growth",
    "llm_gateway",
    "llma_eval_summary",
    "llma_labeling",
    "llma_summarization",
    "llma_translation",
    "posthog_code",
    "product_analytics",
    "slack-posthog-code",
    "wizard",
];

/// Older names the real gateway still routes.
const ALIASES: &[(&str, &str)] = &[
    ("array", "posthog_code"),
    ("twig", "posthog_code"),
    ("slack-twig", "slack-posthog-code"),
];

/// Who may use a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any credential that passes the scope check (`llm_gateway` and most
    /// internal products).
    Anyone,
    /// Access tokens only of the wizard's OAuth applications
    /// (`--wizard-client-ids`); personal API keys are welcome.
    WizardApplications,
    /// Access tokens only of PostHog Code's applications, which never exist
    /// in this simulation; personal API keys are refused.
    PostHogCodeOnly,
}

/// A product a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    pub name: &'static str,
    pub access: Access,
}

impl Product {
    /// The gateway's root.
    pub const LLM_GATEWAY: Product = Product {
        name: "llm_gateway",
        access: Access::Anyone,
    };
    pub const WIZARD: Product = Product {
        name: "wizard",
        access: Access::WizardApplications,
    };

    /// The product a path prefix names (`None` for the root), resolving
    /// aliases; `Err` holds the unknown segment, which the route refuses
    /// with a 400 once the caller is authenticated.
    pub fn named(prefix: Option<&str>) -> Result<Product, String> {
        let Some(segment) = prefix else {
            return Ok(Product::LLM_GATEWAY);
        };
        let resolved = ALIASES
            .iter()
            .find(|(alias, _)| *alias == segment)
            .map_or(segment, |(_, product)| *product);
        let Some(name) = PRODUCTS.iter().find(|name| **name == resolved) else {
            return Err(segment.to_owned());
        };
        let access = match *name {
            "wizard" => Access::WizardApplications,
            "posthog_code" | "background_agents" => Access::PostHogCodeOnly,
            _ => Access::Anyone,
        };
        Ok(Product { name, access })
    }

    /// The product the real gateway checks access for before its handler
    /// validates the path: an unknown segment is checked as `llm_gateway`.
    pub fn checked_for(prefix: Option<&str>) -> Product {
        Product::named(prefix).unwrap_or(Product::LLM_GATEWAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prefix and the product it names (name and access), or the
    /// segment refused.
    type Case<'a> = (Option<&'a str>, Result<(&'a str, Access), &'a str>);

    #[test]
    fn prefixes_name_products_as_the_real_gateway_reads_them() {
        let cases: &[Case] = &[
            (None, Ok(("llm_gateway", Access::Anyone))),
            (Some("wizard"), Ok(("wizard", Access::WizardApplications))),
            (Some("twig"), Ok(("posthog_code", Access::PostHogCodeOnly))),
            (Some("array"), Ok(("posthog_code", Access::PostHogCodeOnly))),
            (
                Some("background_agents"),
                Ok(("background_agents", Access::PostHogCodeOnly)),
            ),
            (Some("growth"), Ok(("growth", Access::Anyone))),
            (Some("Wizard"), Err("Wizard")),
            (Some("nope"), Err("nope")),
        ];
        for (prefix, expected) in cases {
            let got = Product::named(*prefix)
                .map(|product| (product.name, product.access))
                .map_err(|segment| segment.clone());
            let expected = expected.map_err(str::to_owned);
            assert_eq!(got, expected, "prefix {prefix:?}");
        }
        assert_eq!(Product::checked_for(Some("nope")), Product::LLM_GATEWAY);
        let mut sorted = PRODUCTS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, PRODUCTS, "the 400 lists the products sorted");
    }
}
