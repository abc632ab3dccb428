// Optional: an Application Gateway in front of the server, for Azure ML workspaces with a
// managed VNet, which reach other networks only through private endpoints (an internal
// Container Apps environment is no private-link service; an Application Gateway is). Per the
// Application Gateway private link reference: v2 SKU; a public frontend address is required
// even though no listener uses it; the private frontend configuration carries the private link
// configuration and, for Azure ML outbound rules, must be named appGwPrivateFrontendIpIPv4.
// One HTTPS listener on the private frontend, with the certificate from Key Vault, for the host
// name the managed VNet resolves; the backend is the server's FQDN over HTTPS.

@description('Required. Name of the Application Gateway.')
param name string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Required. Resource ID of the gateway subnet.')
param subnetId string

@description('Required. Resource ID of the private link subnet (private link service network policies disabled).')
param linkSubnetId string

@description('Required. Static private address of the private frontend, inside the gateway subnet.')
param privateIp string

@description('Required. Host name clients use, e.g. pypi.internal.example.com; the certificate must cover it.')
@minLength(1)
param hostName string

@description('Required. Key Vault secret ID (https://VAULT.vault.azure.net/secrets/NAME) of the listener\'s PFX certificate.')
@minLength(1)
param certificateSecretId string

@description('Required. Name of the key vault that holds the certificate.')
param vaultName string

@description('Required. Host name of the server container app (the backend).')
param backendFqdn string

@description('Required. Resource ID of the Log Analytics workspace.')
param workspaceId string

@description('Optional. Availability zones of the gateway and its address; empty for none.')
param zones array = [
  '1'
  '2'
  '3'
]

@description('Optional. Tags for all resources.')
param tags object = {}

var privateFrontend = 'appGwPrivateFrontendIpIPv4'
var publicFrontend = 'appGwPublicFrontendIpIPv4'
var link = 'blobpi-private-link'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var certificateName = last(split(certificateSecretId, '/'))
var child = {
  frontend: resourceId('Microsoft.Network/applicationGateways/frontendIPConfigurations', name, privateFrontend)
  port: resourceId('Microsoft.Network/applicationGateways/frontendPorts', name, 'https')
  certificate: resourceId('Microsoft.Network/applicationGateways/sslCertificates', name, 'listener')
  listener: resourceId('Microsoft.Network/applicationGateways/httpListeners', name, 'index')
  pool: resourceId('Microsoft.Network/applicationGateways/backendAddressPools', name, 'server')
  settings: resourceId('Microsoft.Network/applicationGateways/backendHttpSettingsCollection', name, 'server-https')
  probe: resourceId('Microsoft.Network/applicationGateways/probes', name, 'server-ready')
  link: resourceId('Microsoft.Network/applicationGateways/privateLinkConfigurations', name, link)
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-identity'
  location: location
  tags: tags
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource certificateSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: certificateName
}

resource readCertificate 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(certificateSecret.id, identity.id, keyVaultSecretsUser)
  scope: certificateSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource address 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: '${name}-ip'
  location: location
  tags: tags
  zones: zones
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource waf 'Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies@2024-05-01' = {
  name: '${name}-waf'
  location: location
  tags: tags
  properties: {
    policySettings: {
      state: 'Enabled'
      mode: 'Prevention'
      requestBodyCheck: true
    }
    managedRules: {
      managedRuleSets: [
        {
          ruleSetType: 'OWASP'
          ruleSetVersion: '3.2'
        }
      ]
    }
  }
}

resource gateway 'Microsoft.Network/applicationGateways@2024-05-01' = {
  name: name
  location: location
  tags: tags
  zones: zones
  dependsOn: [
    readCertificate
  ]
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    sku: {
      name: 'WAF_v2'
      tier: 'WAF_v2'
    }
    autoscaleConfiguration: {
      minCapacity: 1
      maxCapacity: 3
    }
    firewallPolicy: {
      id: waf.id
    }
    sslPolicy: {
      policyType: 'Predefined'
      policyName: 'AppGwSslPolicy20220101S'
    }
    gatewayIPConfigurations: [
      {
        name: 'gateway'
        properties: {
          subnet: {
            id: subnetId
          }
        }
      }
    ]
    privateLinkConfigurations: [
      {
        name: link
        properties: {
          ipConfigurations: [
            {
              name: 'link'
              properties: {
                privateIPAllocationMethod: 'Dynamic'
                primary: true
                subnet: {
                  id: linkSubnetId
                }
              }
            }
          ]
        }
      }
    ]
    frontendIPConfigurations: [
      {
        name: publicFrontend
        properties: {
          publicIPAddress: {
            id: address.id
          }
        }
      }
      {
        name: privateFrontend
        properties: {
          privateIPAllocationMethod: 'Static'
          privateIPAddress: privateIp
          subnet: {
            id: subnetId
          }
          privateLinkConfiguration: {
            id: child.link
          }
        }
      }
    ]
    frontendPorts: [
      {
        name: 'https'
        properties: {
          port: 443
        }
      }
    ]
    sslCertificates: [
      {
        name: 'listener'
        properties: {
          keyVaultSecretId: certificateSecretId
        }
      }
    ]
    httpListeners: [
      {
        name: 'index'
        properties: {
          frontendIPConfiguration: {
            id: child.frontend
          }
          frontendPort: {
            id: child.port
          }
          protocol: 'Https'
          hostName: hostName
          requireServerNameIndication: true
          sslCertificate: {
            id: child.certificate
          }
        }
      }
    ]
    backendAddressPools: [
      {
        name: 'server'
        properties: {
          backendAddresses: [
            {
              fqdn: backendFqdn
            }
          ]
        }
      }
    ]
    probes: [
      {
        name: 'server-ready'
        properties: {
          protocol: 'Https'
          path: '/health/ready'
          interval: 30
          timeout: 10
          unhealthyThreshold: 3
          pickHostNameFromBackendHttpSettings: true
        }
      }
    ]
    backendHttpSettingsCollection: [
      {
        name: 'server-https'
        properties: {
          port: 443
          protocol: 'Https'
          pickHostNameFromBackendAddress: true
          requestTimeout: 300 // large wheels stream through
          probe: {
            id: child.probe
          }
        }
      }
    ]
    requestRoutingRules: [
      {
        name: 'index'
        properties: {
          ruleType: 'Basic'
          priority: 100
          httpListener: {
            id: child.listener
          }
          backendAddressPool: {
            id: child.pool
          }
          backendHttpSettings: {
            id: child.settings
          }
        }
      }
    ]
  }
}

resource gatewayLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: gateway
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

@description('The resource ID of the gateway (the Azure ML outbound rule\'s target).')
output gatewayId string = gateway.id

@description('The name of the gateway.')
output gatewayName string = gateway.name

@description('The private frontend configuration: the outbound rule\'s sub-resource.')
output privateFrontendName string = privateFrontend

@description('The URL Azure ML uses as --index-url through the gateway.')
output indexUrl string = 'https://${hostName}/simple/'
