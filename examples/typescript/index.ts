// Take one Azure Marketplace offer live and export what the portal reported.
//
// By default it targets the Partner Portal; set marketplace:endpoint and marketplace:accessToken
// (or the Azure AD settings, see the repository README) in the stack's config.
import * as pulumi from "@pulumi/pulumi";
import * as marketplace from "@pulumi-marketplace/marketplace";

const config = new pulumi.Config();
const timeout = config.get("timeout") ?? "2h";

const offer = new marketplace.LiveOffer(
    "contoso-vm-live",
    {
        publisherId: config.get("publisherId") ?? "contoso",
        offerId: config.get("offerId") ?? "contoso-vm",
        // A new plan version published to preview? Bump planVersion and `pulumi up` goes live again.
        triggers: [config.get("planVersion") ?? "1.0.0"],
    },
    // When a custom timeout passes, the go-live keeps running in the portal and is recorded:
    // the next `pulumi up` resumes waiting on the same operation.
    { customTimeouts: { create: timeout, update: timeout } },
);

export const offerId = offer.id;
export const status = offer.status;
export const operationId = offer.operationId;
export const operationUrl = offer.operationUrl;
export const liveLinks = offer.liveLinks;
